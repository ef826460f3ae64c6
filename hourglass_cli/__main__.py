from hourglass_cli.cli import main

main()
