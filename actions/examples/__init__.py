"""Example wizards (registered nowhere in the catalogue): see ``actions/README.md``."""
