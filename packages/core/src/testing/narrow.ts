/**
 * Phones and tablets: what makes a page unusable at its width, for the apps' browser tests at 390 px (a
 * phone) and 768 px (a tablet upright). Many annotators rank on a phone.
 */
import type { Page } from "playwright-core";

/** The widths the apps are checked at. */
export const NARROW_WIDTHS = [390, 768] as const;

/**
 * Problems with `page` as laid out now: it scrolls sideways (and which elements stick out), the header's
 * brand wraps, or a link of the main navigation is not fully on screen. Empty when all is well.
 */
export async function narrowLayoutProblems(page: Page): Promise<string[]> {
  return page.evaluate(() => {
    const problems: string[] = [];
    const width = window.innerWidth;
    const describe = (el: Element) =>
      `${el.tagName.toLowerCase()}${el.id ? `#${el.id}` : ""}${el.className && typeof el.className === "string" ? `.${el.className.trim().split(/\s+/).join(".")}` : ""}`;
    const root = document.documentElement;
    if (root.scrollWidth > width + 1) {
      // The outermost elements that stick out (their children would only repeat them).
      const out = [...document.body.querySelectorAll("*")].filter((el) => {
        const rect = el.getBoundingClientRect();
        if (rect.width === 0 || rect.right <= width + 1) return false;
        const parent = el.parentElement?.getBoundingClientRect();
        return !parent || parent.right <= width + 1;
      });
      problems.push(
        `scrolls sideways: ${root.scrollWidth} px wide at ${width}; sticking out: ${out
          .slice(0, 5)
          .map(describe)
          .join(", ")}`,
      );
    }
    const brand = document.querySelector(".brand");
    if (brand) {
      const size = Number.parseFloat(getComputedStyle(brand).fontSize);
      if (brand.getBoundingClientRect().height > size * 2) problems.push("the header's title wraps");
    }
    for (const link of document.querySelectorAll('nav[aria-label="Main"] a')) {
      const rect = link.getBoundingClientRect();
      if (rect.width === 0 || rect.left < 0 || rect.right > width + 1)
        problems.push(`navigation link "${link.textContent?.trim()}" is not on screen`);
    }
    return problems;
  });
}
