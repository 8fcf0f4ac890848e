from quantum_grpc.cli import main

raise SystemExit(main())
