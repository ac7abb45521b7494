"""``python -m itref``."""

from itref.cli.main import main

if __name__ == "__main__":
    main()
