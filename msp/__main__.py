from msp._cli import main

main()
