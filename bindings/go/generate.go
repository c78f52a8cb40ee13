package zenith

// Copy the C sources into csrc/ (see vendor.sh) so the module builds outside the repository.
//go:generate sh vendor.sh
