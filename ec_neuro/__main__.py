from ec_neuro.cli import main

main()
