from alignops.runtime.serve import main

main()
