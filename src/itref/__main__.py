"""``python -m itref``."""

from itref.cli.entry import main

if __name__ == "__main__":
    main()
