"""The task client: encode payloads, create tasks, wait for TaskVerified, read what the aggregator recorded."""
