/** npm `vader-sentiment` (the VADER authors' JavaScript port) ships no types: the one call the workbench makes. */
declare module "vader-sentiment" {
  const vader: {
    SentimentIntensityAnalyzer: {
      polarity_scores(text: string): { neg: number; neu: number; pos: number; compound: number };
    };
  };
  export default vader;
}
