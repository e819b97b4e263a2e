"""Operating the service: what a week cost, how far a run is."""
