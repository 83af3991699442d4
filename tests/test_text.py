import pandas as pd
import pytest

from rnnpipe.text import clean_text, tokenize
from rnnpipe.vocabulary import Vocabulary


@pytest.mark.parametrize(
    ("text", "tokens"),
    [
        ("a fine<br />story", ["a", "fine", "story"]),
        ("a weak<br/>plot", ["a", "weak", "plot"]),
        ("one<BR>two", ["one", "two"]),
        ("one<br >two<Br/>three<bR  />four", ["one", "two", "three", "four"]),
        ("<i>really</i> good", ["really", "good"]),
        ('<p class="x">plain</p>text', ["plaintext"]),
        ("fish &amp; chips &#39;n&#39; tea", ["fish", "chips", "n", "tea"]),
        ("line one<br /><br />line two", ["line", "one", "line", "two"]),
        ("Don't STOP, it's 10/10!", ["don't", "stop", "it's", "10", "10"]),
        ("It’s a café", ["it's", "a", "café"]),
        ("?! ... --", []),
    ],
)
def test_tokenize_cleans_markup(text, tokens):
    assert tokenize(text) == tokens


def test_clean_text_decodes_entities_after_tags():
    assert clean_text("a &lt;b&gt; tag &amp; more") == "a <b> tag & more"


def test_html_case_file_never_puts_br_in_vocabulary(cases):
    reviews = pd.read_csv(cases / "html_reviews.csv")

    token_lists = [tokenize(text) for text in reviews["text"]]
    vocabulary = Vocabulary.fit(token_lists, num_words=100)

    assert token_lists[0] == ["a", "fine", "story"]
    assert token_lists[4] == ["fish", "chips", "n", "tea"]
    for tag_word in ("br", "i", "amp", "39"):
        assert tag_word not in vocabulary.word_index
