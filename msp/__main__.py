from msp._main import main

main()
