from deblur_cli.launch import main

if __name__ == "__main__":  # `python -m deblur_cli`; importing the module (documentation tools do) runs nothing
    main()
