"""Real data sets of the course: loaders that download once into the cache, and the
offline data that ship with the installed packages."""
from .images import DATASETS, ImageData, ImageSource, OfflineError, load_digits, load_images, load_mnist, load_mnist5k

__all__ = ["DATASETS", "ImageData", "ImageSource", "OfflineError", "load_digits", "load_images", "load_mnist", "load_mnist5k"]
