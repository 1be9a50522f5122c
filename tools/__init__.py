"""What the assistant can do: LangChain tools (segment, explain) and the model backends behind them."""
