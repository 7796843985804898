"""Front matter -> validated stories -> the store: parsing, folder scanning, rejection reasons, the CLI command."""
