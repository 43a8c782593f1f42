from iamkit.cli import main

main()
