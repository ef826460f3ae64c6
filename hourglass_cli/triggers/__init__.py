"""Automation triggers watched by operators: the wire protocol, the aggregator.Node service, the operator side."""
