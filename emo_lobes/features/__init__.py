"""Features: acoustic features (openSMILE functionals, MFCCs) and frozen front-end outputs, cached on disk."""
