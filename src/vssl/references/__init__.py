"""Published numbers shipped as data, each file naming its source and table, and the rules vssl ranks them by."""
