"""``python -m verishallow``: the same CLI as the ``verishallow`` console script."""

from .cli import main

if __name__ == "__main__":
    main()
