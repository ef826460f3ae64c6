"""Wire formats: the .proto files, generated stubs and the signed-message layouts of WIRE.md."""
