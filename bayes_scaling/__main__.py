"""``python -m bayes_scaling``: the ``bayes-scaling`` command line."""

from bayes_scaling.cli import main

if __name__ == "__main__":
    main()
