"""Example performers (``hourglass performer serve hourglass_cli.performer.examples.square:SquarePerformer``)."""
