"""The local devnet: chains (anvil or embedded), deployment, operators, the supervisor and its state."""
