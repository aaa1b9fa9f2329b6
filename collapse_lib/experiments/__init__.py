"""The experiments of the chapters, each a function of a profile-scaled config."""
