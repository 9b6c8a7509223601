from msp._cli.main import main

main()
