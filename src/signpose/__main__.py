from signpose.cli.main import main

raise SystemExit(main())
