"""Wire formats shared by aggregator, executor and performer (WIRE.md §1-2).

- ``protos/`` — our .proto files: ``eigenlayer.hourglass.v1.performer.PerformerService`` and
  ``eigenlayer.hourglass.v1.ExecutorService``, names and field numbers as upstream's;
- ``gen/`` — the committed grpcio-tools stubs (``python -m hourglass_cli.wire.regen [--check]``);
- :mod:`~hourglass_cli.wire.services` — servicer registration and client stubs that work on grpcio >= 1.60;
- :mod:`~hourglass_cli.wire.messages` — the signed byte layouts, id/address validation, result digests;
- :mod:`~hourglass_cli.wire.signing` — BN254/ECDSA signers and verifiers as the Go stack signs.

Imports only ``crypto`` and ``errors`` of ours; importing this package itself loads nothing heavy.
"""
