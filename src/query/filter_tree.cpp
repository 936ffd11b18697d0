// Filter tree: placeholder until the query module lands.
