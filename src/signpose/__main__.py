from signpose.cli import main

raise SystemExit(main())
