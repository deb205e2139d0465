from seats.cli import main

main()
