"""Images of the `_images_` datasets: what each image is (probe), what privacy removes from it (privacy)."""
