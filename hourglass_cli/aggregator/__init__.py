"""The aggregator: pollers per chain → task store → task sessions (fan-out to executors, verify, threshold)
→ certificates → submitter; health and Prometheus metrics over HTTP. Start one with
``Aggregator(load_aggregator_config(path)).start()`` or ``hourglass aggregator run --config FILE``.
"""
