"""The executor: ``ExecutorService`` for one operator — checks the aggregator's signature and the operator's
membership, runs the AVS's performer through a runtime, signs the result and remembers processed tasks.

Modules: ``config`` (the executor's TOML), ``store`` (SQLite), ``chain_view`` (cached chain reads),
``service`` (the gRPC servicer), ``server`` (``run_executor``), ``runtimes/`` (process, docker, remote).
"""
