from deblur_cli.launch import main

main()
