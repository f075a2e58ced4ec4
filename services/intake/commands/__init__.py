"""What intake does, each a function over one unit of work; routes and event handlers call
these, so the same rule holds whichever way a request comes in."""
