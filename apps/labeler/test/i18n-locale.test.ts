/**
 * Which language a request gets (cookie, else Accept-Language, else English), and times, durations and
 * numbers in each (@rlhf/ui/format, shared by both apps).
 */
import { compactDuration, dateTime, duration, integer, metricValue, timeAgo } from "@rlhf/ui/format";
import { fromAcceptLanguage, negotiateLocale } from "@rlhf/ui/i18n/negotiate";
import { describe, expect, it } from "vitest";

describe("the language of a request", () => {
  it("is the cookie's when it names a language the apps speak", () => {
    expect(negotiateLocale("zh", "en-US,en;q=0.9")).toBe("zh");
    expect(negotiateLocale("en", "zh-CN")).toBe("en");
    expect(negotiateLocale("fr", "zh-CN")).toBe("zh");
  });

  it("is otherwise the browser's best-weighted language the apps speak, any Chinese as 简体中文", () => {
    expect(negotiateLocale(undefined, "zh-CN,zh;q=0.9,en;q=0.8")).toBe("zh");
    expect(fromAcceptLanguage("zh-Hans-CN")).toBe("zh");
    expect(fromAcceptLanguage("zh-TW")).toBe("zh");
    expect(fromAcceptLanguage("fr-FR,en;q=0.5,zh;q=0.8")).toBe("zh");
    expect(fromAcceptLanguage("de, en-GB;q=0.7")).toBe("en");
    expect(fromAcceptLanguage("zh;q=0, en")).toBe("en");
    expect(fromAcceptLanguage("fr, *;q=0.1")).toBeUndefined();
  });

  it("is English when nothing names one", () => {
    expect(negotiateLocale(undefined, null)).toBe("en");
    expect(negotiateLocale(undefined, "")).toBe("en");
    expect(negotiateLocale(undefined, "ja-JP")).toBe("en");
  });
});

describe("formatting per language", () => {
  const now = Date.UTC(2026, 11, 5, 12, 0, 0);
  it("says how long ago", () => {
    expect(timeAgo(new Date(now - 3 * 60_000), "en", now)).toBe("3 minutes ago");
    expect(timeAgo(new Date(now - 3 * 60_000), "zh", now)).toBe("3分钟前");
    expect(timeAgo(new Date(now - 86_400_000), "zh", now)).toBe("昨天");
    expect(timeAgo(new Date(now - 86_400_000), undefined, now)).toBe("yesterday");
  });

  it("writes the CLI's compact English forms from the same functions", () => {
    expect(timeAgo(new Date(now - 45_000), "en", now, "narrow")).toBe("45s ago");
    expect(timeAgo(new Date(now - 3 * 3600_000), "en", now, "narrow")).toBe("3h ago");
    expect(timeAgo(new Date(now - 2 * 86_400_000), "en", now, "narrow")).toBe("2d ago");
    expect(timeAgo(new Date(now + 2_000), "en", now, "narrow")).toBe("0s ago");
    expect(compactDuration(4_000)).toBe("4s");
    expect(compactDuration(125_000)).toBe("2m5s");
    expect(compactDuration(3_780_000)).toBe("1h3m");
  });

  it("writes durations with the language's units", () => {
    expect(duration(4_000)).toBe("4 s");
    expect(duration(125_000, "en")).toBe("2 min 5 s");
    expect(duration(125_000, "zh")).toBe("2 分 5 秒");
    expect(duration(3_780_000, "zh-CN")).toBe("1 小时 3 分");
  });

  it("writes dates and numbers as each language does", () => {
    const date = new Date(Date.UTC(2026, 11, 5, 12, 25, 5));
    expect(dateTime(date, "zh")).toMatch(/^2026年12月5日/);
    expect(dateTime(date, "en")).toMatch(/^Dec 5, 2026/);
    expect(integer(12345, "zh")).toBe("12,345");
    expect(metricValue(0.123456, "en")).toBe("0.1235");
    expect(metricValue(null)).toBe("—");
  });
});
