from alignops.cli import main

main()
