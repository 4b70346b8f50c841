"""Economics of chat serving: prices, token volumes and costs, fleet sizing, regions, availability."""
