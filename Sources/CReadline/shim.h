#ifndef TSEE_CREADLINE_SHIM_H
#define TSEE_CREADLINE_SHIM_H

#include <stdio.h>
#include <readline/readline.h>
#include <readline/history.h>

/* Swift 6 refuses readline's mutable C globals; these accessors are the only way the REPL touches them. */

static inline void tsee_rl_set_completion(rl_completion_func_t *fn) { rl_attempted_completion_function = fn; }
static inline void tsee_rl_set_completion_append_character(int c) { rl_completion_append_character = c; }
static inline void tsee_rl_set_attempted_completion_over(int v) { rl_attempted_completion_over = v; }
static inline const char *tsee_rl_line_buffer(void) { return rl_line_buffer; }
static inline int tsee_rl_point(void) { return rl_point; }
static inline void tsee_rl_set_basic_word_break_characters(const char *s) { rl_basic_word_break_characters = s; }
static inline void tsee_rl_set_readline_name(const char *s) { rl_readline_name = s; }
static inline void tsee_rl_set_catch_signals(int v) { rl_catch_signals = v; }
static inline void tsee_rl_set_catch_sigwinch(int v) { rl_catch_sigwinch = v; }
static inline void tsee_rl_set_done(int v) { rl_done = v; }
static inline void tsee_history_set_length_limit(int n) { stifle_history(n); }
static inline int tsee_history_length(void) { return history_length; }
static inline void tsee_rl_set_instream(FILE *f) { rl_instream = f; }
static inline void tsee_rl_set_outstream(FILE *f) { rl_outstream = f; }

#endif
