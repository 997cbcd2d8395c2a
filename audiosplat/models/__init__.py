"""Parameters to controls: the seed and direct models behind one interface, their analysis start and their strategies."""
