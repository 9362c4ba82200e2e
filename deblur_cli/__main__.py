from deblur_cli.cli import main

main()
