"""Human review in Argilla: push the rows that passed the gate, pull people's decisions back."""
