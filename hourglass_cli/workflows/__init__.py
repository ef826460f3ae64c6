"""Workflows: definition files, and (coming) the driver and CLI around WorkflowStateMachine."""
