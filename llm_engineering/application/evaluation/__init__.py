"""Does the twin write like the person? Perplexity, style, attribution, ROUGE-L, judge; promotion."""
