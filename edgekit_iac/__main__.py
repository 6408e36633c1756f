from edgekit_iac.cli import main

raise SystemExit(main())
