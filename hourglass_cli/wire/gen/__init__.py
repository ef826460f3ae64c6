"""Generated protobuf/gRPC stubs for wire/protos; do not edit (python -m hourglass_cli.wire.regen)."""

GRPCIO_TOOLS_VERSION = "1.85.1"
PROTOBUF_GENCODE_VERSION = "7.35.1"
