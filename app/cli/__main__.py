"""`python -m app.cli`: the `vigil` command."""

from app.cli.main import main

raise SystemExit(main())
