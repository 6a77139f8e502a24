/*
 * sentiment.h - lexicon sentiment with the rules of thumb for short posts.
 *
 * Scores run from -1 (hostile) to +1 (delighted). The lexicon is data
 * (rules/sentiment-lexicon.yaml): word and phrase valences from -4 to +4,
 * negations, intensifiers, dampeners, contrast words, emoticons and emoji.
 * Its terms are compiled into the same matcher as every rule term, so the
 * one pass over a post finds both.
 *
 * How a post is scored (sentiment.c has the constants):
 *   - the text is cut into clauses at . ! ? ; , : line breaks and contrast
 *     words; sentences end at . ! ? and line breaks;
 *   - a sentiment word's valence is raised by an intensifier and lowered by a
 *     dampener among the three tokens before it, flipped and damped by a
 *     negation among the three tokens before it, and raised when it is
 *     written in CAPS in a post that is not all caps;
 *   - a sentence's "!" raise its clauses' magnitude; a question damps its
 *     positive words;
 *   - in a sentence with a contrast word ("but", "however"), clauses before
 *     it count half and clauses from it on count one and a half;
 *   - the weighted sum S is mapped into (-1, 1) by S / sqrt(S^2 + 15).
 * Brand-targeted: a clause that names a brand belongs to it, a clause that
 * names none to the brands of the clause before it, leading clauses to the
 * first brands named; a brand's score is computed from its clauses only.
 *
 * Tones: negative below BM_TONE_NEGATIVE_BELOW, positive above
 * BM_TONE_POSITIVE_ABOVE, neutral between.
 */
#ifndef BRANDMON_SENTIMENT_H
#define BRANDMON_SENTIMENT_H

#define BM_TONE_NEGATIVE_BELOW (-0.1)
#define BM_TONE_POSITIVE_ABOVE 0.1

enum bm_tone {
    BM_TONE_NEGATIVE,
    BM_TONE_NEUTRAL,
    BM_TONE_POSITIVE,
};

enum bm_tone bm_tone_of(double score);
/* "negative", "neutral" or "positive". */
const char *bm_tone_name(enum bm_tone tone);
/* Parses a tone name. 0 or -EINVAL. */
int bm_tone_parse(const char *name, enum bm_tone *out);

#endif
