"""Data files the engine ships: country names, and later lexicons a linguist can edit."""
