"""The AVS project scaffold: `hourglass avs init` (render a template) and `hourglass avs build` (check and build).

Importing this package is cheap; the modules import what they need (jinja2, grpc, docker) inside functions.
"""
